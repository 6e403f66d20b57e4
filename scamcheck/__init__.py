"""Check what a villager received: pasted messages, screenshots, letters and work IDs.

Pure judgement lives in ``signals`` (text in, verdict out); ``replies`` words the answer;
``urls`` reads the host of a link the way a browser would. Nothing here imports bot/.
"""
