"""Where users' traces already live: MLflow (`accord.integrations.mlflow`, the `mlflow` extra) and
OpenTelemetry (`accord.integrations.otlp`, the `otel` extra for protobuf)."""
