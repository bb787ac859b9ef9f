"""Due process: notices to subjects, objections, credit repair, holds and deadlines."""
