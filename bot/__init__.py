"""The hotline's conversation side: channels (SMS, WeChat, web chat), the dialogue,
the Flask app and the ``hotline`` command line."""
