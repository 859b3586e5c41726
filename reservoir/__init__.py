"""reservoir: tasks, encoders, features, readouts and the statistics of honest reporting.

NRMSE in hashrc is always RMSE / std(test target) (``nrmse_normalisation = "std"``):
predicting the mean scores about 1.0.
"""
