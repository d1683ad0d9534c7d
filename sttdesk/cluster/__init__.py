"""The coordinator side of the cluster: agent links, leases, and the ZeroMQ loop that owns the sockets."""
