"""The execution engine: the scheduler, the graph walker and the node kinds it runs, as propeller does."""
