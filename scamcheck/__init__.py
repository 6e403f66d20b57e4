"""Check what a villager received: pasted messages, screenshots, letters and work IDs.

Pure judgement lives in ``signals`` (text in, verdict out); ``replies`` words the answer.
Links are read by weburl/ (the WHATWG parser every layer shares). Nothing here imports bot/.
"""
