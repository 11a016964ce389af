"""Alarms, EventBridge rules and the operations dashboard as code, built from the fleet the lake knows."""
