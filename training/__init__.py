"""Offline training: data loading, model building, evaluation and publishing (scikit-learn allowed here only)."""
