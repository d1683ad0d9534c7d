"""``sttdesk-agent``: the worker that transcribes chunks for coordinators over ZeroMQ.

:mod:`.main` is the program, :mod:`.runtime` its socket loop, :mod:`.slots` the
worker threads that own one engine each, :mod:`.peers` the coordinators it
serves and the fair order between them, :mod:`.engines` whisper.cpp and the
fake engine, :mod:`.models` the models it announces, :mod:`.transport` its
one socket, :mod:`.identity` who it is.
"""
