"""boto3 sessions for the lake and for each source: endpoint, retries, assumed roles, call counts."""

from __future__ import annotations

import functools
import json
import os
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
import botocore.client
import botocore.loaders
import botocore.session
import cbor2
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError
from botocore.utils import PRIORITY_ORDERED_SUPPORTED_PROTOCOLS

from pipelines import cbor_requests
from pipelines.errors import AccountError

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import PaginatorConfigTypeDef

# Adaptive mode adds client-side rate limiting on throttles (CloudWatch allows 50 TPS).
RETRIES = BotoConfig(retries={"mode": "adaptive", "max_attempts": 8}, connect_timeout=10, read_timeout=120)
# The emulator answers its own bugs with HTTP 500, which botocore would retry for seconds.
LOCAL_RETRIES = BotoConfig(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=5, read_timeout=300)

# USD, us-east-1 list prices: GetMetricData is billed per metric (query) requested,
# the other CloudWatch reads per 1,000 requests.
PRICE_PER_METRIC_REQUESTED = 0.01 / 1000
PRICE_PER_REQUEST = 0.01 / 1000
# An assumed role's session is used again while its credentials have this long left (STS gives an hour by default):
# long enough for any one source's landing to finish on them.
CREDENTIALS_REUSED_UNTIL = timedelta(minutes=20)


@dataclass
class ApiCalls:
    """Thread-safe tally of AWS API calls and of CloudWatch metrics requested, for cost."""

    calls: Counter[str] = field(default_factory=Counter)
    metrics_requested: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        key = f"{model.service_model.service_id}.{model.name}"
        with self._lock:
            self.calls[key] += 1
            if model.name == "GetMetricData":
                self.metrics_requested += len(params.get("MetricDataQueries", ()))

    def cloudwatch_cost_usd(self) -> float:
        other = sum(n for key, n in self.calls.items() if key.startswith("CloudWatch.") and key != "CloudWatch.GetMetricData")
        return self.metrics_requested * PRICE_PER_METRIC_REQUESTED + other * PRICE_PER_REQUEST

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self.calls.items()))


# Services asked in Smithy RPC v2 CBOR where botocore would choose JSON: CloudWatch lists CBOR first among its
# protocols, and its GetMetricData points then arrive as fixed-width binary numbers that the decoder reads as numpy
# views (2.4 ms a 100,000-point page against 23 ms of parsing JSON text; half the bytes on the wire).
CBOR = "smithy-rpc-v2-cbor"
CBOR_SERVICES = frozenset({"cloudwatch"})


class _Models(botocore.loaders.Loader):
    """botocore's loader, with CBOR_SERVICES resolving to CBOR (botocore 1.44 ranks JSON first whatever the service
    lists; a botocore without CBOR keeps the service's own choice)."""

    def load_service_model(self, service_name: str, type_name: str, api_version: str | None = None) -> Any:
        model = super().load_service_model(service_name, type_name, api_version)
        metadata = model.get("metadata", {}) if type_name == "service-2" and service_name in CBOR_SERVICES else {}
        if CBOR in metadata.get("protocols", ()) and CBOR in PRIORITY_ORDERED_SUPPORTED_PROTOCOLS:
            metadata["protocols"] = [CBOR]  # the loader's cached model: the same change every time
        return model


def _cbor_error_body(response_dict: dict[str, Any], operation_model: Any, **_: Any) -> None:
    """An error whose body is not CBOR (a 500 page from a proxy, a load balancer or the emulator) as a CBOR error
    naming its status: botocore's CBOR parser reads only a CBOR map and failed with an AttributeError on the text,
    where its JSON parser reported the HTTP status."""
    body = response_dict.get("body")
    if response_dict.get("status_code", 200) < 300 or operation_model.service_model.resolved_protocol != CBOR:
        return
    if isinstance(body, bytes | bytearray) and body:
        try:
            if isinstance(cbor2.loads(body), dict):
                return
        except (cbor2.CBORDecodeError, ValueError, TypeError, IndexError):
            pass
        text = bytes(body).decode("utf-8", "replace")
    else:
        text = ""
    response_dict["body"] = cbor2.dumps({"message": " ".join(text.split())[:300]})


class ModelFiles(botocore.loaders.JSONFileLoader):
    """botocore's model files parsed into plain dicts. botocore asks json for OrderedDicts (a Python hook per
    object: twice the time), and every loaded model stays alive: ~120,000 OrderedDicts in a process that ran a
    few nights, which the cyclic collector walked on every full collection (a dict holding only strings and
    numbers is not tracked; an OrderedDict always is). Dicts keep their keys' order, as botocore expects."""

    def _load_file(self, full_path: str, open_method: Any) -> Any:
        if not os.path.isfile(full_path):
            return None
        with open_method(full_path, "rb") as fp:
            return json.loads(fp.read())


@functools.cache
def _models() -> Any:
    """The process's botocore loader: it reads and parses each service's model once."""
    default = botocore.session.get_session().get_component("data_loader")
    return _Models(extra_search_paths=list(default.search_paths), file_loader=ModelFiles(), include_default_search_paths=False)


_CLIENT_METHODS: dict[tuple[str, int], tuple[Any, dict[str, Any]]] = {}
_ORIGINAL_CREATE_METHODS = botocore.client.ClientCreator._create_methods  # type: ignore[attr-defined]


def _client_methods(creator: botocore.client.ClientCreator, service_model: Any) -> dict[str, Any]:
    """botocore's methods of a client class, made once per service model: every client (a night makes one per
    service and assumed account x region) defined a function and a docstring object per operation (SageMaker has
    ~400), a third of making the client. The shared loader hands every session the same model, so it is the key;
    the functions call `_make_api_call` on their client and are the same for all. (Their lazy docstrings render with
    the first client's event emitter: only `help()` reads them.)"""
    description = service_model._service_description
    key = (service_model.service_name, id(description))
    found = _CLIENT_METHODS.get(key)
    if found is None or found[0] is not description:  # the model held: its id is no other model's meanwhile
        found = _CLIENT_METHODS[key] = (description, _ORIGINAL_CREATE_METHODS(creator, service_model))
    return dict(found[1])  # the class's attributes: 'creating-client-class' handlers add to them


def _core_session() -> botocore.session.Session:
    """A new botocore session sharing the process's loader. Without it, every session (one per assumed account
    x region, one per CLI command or test) parsed the service models again: 6 clients took 390 ms, now ~55."""
    botocore.client.ClientCreator._create_methods = _client_methods  # type: ignore[attr-defined]
    core = botocore.session.get_session()
    core.register_component("data_loader", _models())
    return core


class Session(boto3.Session):
    """A boto3 session whose clients all use one endpoint (the local stack) and our retry policy.

    awswrangler builds its clients from the session it is given, so passing this session
    is enough to point it at the emulator: no global `wr.config`, no environment variables.
    """

    def __init__(
        self,
        *,
        endpoint_url: str | None = None,
        calls: ApiCalls | None = None,
        hooks: tuple[tuple[str, Callable[..., Any]], ...] = (),
        retries: BotoConfig | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs.get("botocore_session") is None:
            kwargs["botocore_session"] = _core_session()
        super().__init__(**kwargs)
        self.endpoint_url = endpoint_url
        self.calls = calls if calls is not None else ApiCalls()
        self.hooks = hooks
        # `retries` overrides the policy, e.g. AWS's adaptive retries against the local stack in a fault-injection test.
        self._boto_config = retries or (LOCAL_RETRIES if endpoint_url else RETRIES)
        self._clients: dict[tuple[Any, ...], Any] = {}
        self._assumed: dict[tuple[str, str, str, str | None], tuple[Session, datetime]] = {}
        self._clients_lock = threading.Lock()
        # before-parameter-build sees the API parameters (before-call sees the serialized request): once per call, retries aside
        self.events.register("before-parameter-build.*.*", self.calls.record)
        for service in CBOR_SERVICES:
            self.events.register(f"before-parse.{service}", _cbor_error_body)
        for event, handler in hooks:
            self.events.register(event, handler)

    def register_hook(self, event: str, handler: Callable[..., Any]) -> None:
        """A botocore event handler for this session and every session derived from it.

        Sessions assumed into source accounts are new boto3 sessions with their own event
        systems; hooks (instrumentation, fault injection at the AWS boundary) follow them.
        """
        self.hooks = (*self.hooks, (event, handler))
        self.events.register(event, handler)
        with self._clients_lock:
            self._clients.clear()  # clients copy the session's handlers when made: make them anew
            self._assumed.clear()  # and sessions assumed before have the old hooks: assume again

    def _derived(self, region: str, access_key: str | None, secret_key: str | None, token: str | None) -> Session:
        return Session(
            endpoint_url=self.endpoint_url,
            calls=self.calls,
            hooks=self.hooks,
            retries=self._boto_config,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            aws_session_token=token,
        )

    def client(  # one signature for every service: clients are typed where they are used (mypy_boto3_*)
        self, service_name: str, *args: Any, endpoint_url: str | None = None, config: BotoConfig | None = None, **kwargs: Any
    ) -> Any:
        """One client per service, region and endpoint, made once: making one costs ~20 ms, and
        clients are thread-safe. (awswrangler's own Config differs from ours only in pool size; it also passes
        use_ssl and verify, which are part of the key: before, each of its calls made a new client, 8 s of a
        4-night demo.)"""
        endpoint_url = endpoint_url or self.endpoint_url
        config = config.merge(self._boto_config) if config else self._boto_config
        if args or set(kwargs) - {"region_name", "use_ssl", "verify"}:  # explicit credentials or options: not shared
            return self._boto3_client(service_name, *args, endpoint_url=endpoint_url, config=config, **kwargs)
        verify = kwargs.get("verify")
        key = (
            service_name,
            kwargs.get("region_name") or self.region_name,
            endpoint_url,
            kwargs.get("use_ssl", True),
            verify if verify is None or isinstance(verify, (bool, str)) else id(verify),
        )
        with self._clients_lock:
            if key not in self._clients:
                self._clients[key] = self._boto3_client(service_name, endpoint_url=endpoint_url, config=config, **kwargs)
            return self._clients[key]

    def resource(
        self, service_name: str, *args: Any, endpoint_url: str | None = None, config: BotoConfig | None = None, **kwargs: Any
    ) -> Any:
        config = config.merge(self._boto_config) if config else self._boto_config
        make: Any = super().resource  # overloaded per service name in the stubs; here the name is data
        return make(service_name, *args, endpoint_url=endpoint_url or self.endpoint_url, config=config, **kwargs)

    def _boto3_client(self, service_name: str, *args: Any, **kwargs: Any) -> Any:
        make: Any = super().client  # overloaded per service name in the stubs; here the name is data
        client = make(service_name, *args, **kwargs)
        if service_name in CBOR_SERVICES:
            cbor_requests.install(client)  # GetMetricData's queries encoded by cbor2 (cbor_requests.py)
        return client

    def assume(self, role_arn: str, region: str, session_name: str = "mlmon", *, external_id: str | None = None) -> Session:
        """A session in another account through STS; failures name the role, never the keys (nor the external id).

        The session is kept and given again while its credentials have `CREDENTIALS_REUSED_UNTIL` left: every source
        of a night assumes the same roles, and each new session with its clients cost ~45 ms and an STS call (308 of
        them in a 14-night demo, for 4 account x region pairs).
        """
        key = (role_arn, region, session_name, external_id)
        with self._clients_lock:
            kept = self._assumed.get(key)
        if kept is not None and kept[1] - datetime.now(UTC) > CREDENTIALS_REUSED_UNTIL:
            return kept[0]
        extra = {"ExternalId": external_id} if external_id else {}
        try:
            creds = self.client("sts", region_name=region).assume_role(RoleArn=role_arn, RoleSessionName=session_name, **extra)[
                "Credentials"
            ]
        except (ClientError, BotoCoreError) as error:
            account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else "?"
            raise AccountError(account, region, f"cannot assume {role_arn}: {error}") from error
        assumed = self._derived(region, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
        expiration = creds["Expiration"]
        with self._clients_lock:
            self._assumed[key] = (assumed, expiration if expiration.tzinfo else expiration.replace(tzinfo=UTC))
        return assumed

    def in_region(self, region: str) -> Session:
        """The same credentials, pinned to `region` (awswrangler uses the session's region)."""
        creds = self.get_credentials()
        frozen = creds.get_frozen_credentials() if creds else None
        if frozen is None:
            return self._derived(region, None, None, None)
        return self._derived(region, frozen.access_key, frozen.secret_key, frozen.token)


def lake_session(region: str, endpoint_url: str | None, calls: ApiCalls | None = None) -> Session:
    """The session for the lake's home region (bucket, Glue, Athena) from the ambient credentials.

    An emulator accepts any key: when one is configured and the machine has no credentials,
    placeholders are used so a laptop needs no AWS setup at all.
    """
    session = Session(endpoint_url=endpoint_url, calls=calls, region_name=region)
    if endpoint_url and session.get_credentials() is None:
        session = Session(
            endpoint_url=endpoint_url, calls=calls, region_name=region, aws_access_key_id="local", aws_secret_access_key="local"
        )
    return session


def pagination(page_size: int | None) -> PaginatorConfigTypeDef:
    """A paginator's PaginationConfig: pages of `page_size` items (tests use tiny ones), or the API's default."""
    return {"PageSize": page_size} if page_size else {}
