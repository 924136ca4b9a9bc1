"""Scripts of the data-pipeline sample project (a package so `scripts.report` can be called)."""
