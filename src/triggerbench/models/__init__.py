"""Reference models, their artifacts (Keras source, ONNX export) and named workloads."""
