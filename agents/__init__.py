"""practicegym agents: training CLI, hyperparameters, perception and evaluation."""
