"""ML performance lake: SageMaker model health landed next to business KPIs."""

__version__ = "0.1.0"
