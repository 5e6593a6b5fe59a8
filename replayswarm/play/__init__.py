"""play: a gevent swarm of virtual users replaying scenarios; statistics stream into the DB.

The parent process (`runner`) never imports gevent: it plans, starts worker processes, merges
their statistics deltas and is the only database writer. Workers (`worker`, `user`,
`transport`) monkey-patch and run the virtual users.
"""
