"""What the tests share beside their fixtures: models with known answers, every registered method as a
case, the state of a model to compare, an HTTP client for the explorer and a dataset worker."""
