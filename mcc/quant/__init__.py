"""Quantization support: TFLite parameter rules, range calibrators, calibration data loading."""
