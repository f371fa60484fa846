"""Alert rules, alerts (rule x target), silences and their evaluation after each collection.

See `evaluation.py` for the state machine and the no-data behaviour, `services.py` for what
the API and the web app call, `shared/notify` for the outbox deliveries this produces."""
