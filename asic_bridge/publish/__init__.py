"""Listeners that forward the event stream elsewhere (MQTT)."""
