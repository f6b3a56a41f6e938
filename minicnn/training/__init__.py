"""Training: the Trainer (fit, evaluate, predict), its History and the Keras-style callbacks."""
