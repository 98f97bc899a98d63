"""Runtime machinery: worker processes and threads, BLAS limits, the rule side process."""
