"""Score and label from features: the calibration file, prediction, and per-question fits from
teachers' grades. Fitting lives offline in graders.evaluation."""
