"""Behaviour that ships with jobworker, registered through the same plugin manager as any plugin."""

MODULES: list[str] = ["jobworker.builtin.webhooks"]
