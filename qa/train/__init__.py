"""Training, export and calibration of the shipped extractive reader (see qa/models/reader/)."""
