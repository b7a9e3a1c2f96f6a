"""Training: losses as modules, a thin transformers.Trainer subclass, callbacks, the train/export commands."""
