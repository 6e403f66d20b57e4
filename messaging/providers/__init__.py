"""The providers that send: one module each (console, twilio, aliyun, tencent, wechat,
and ``fake`` for tests and the bench) behind the interface of ``base``."""
