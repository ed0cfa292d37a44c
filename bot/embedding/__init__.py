"""Text -> normalised vectors: sentence-transformers, the ONNX question encoder."""
