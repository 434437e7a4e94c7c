"""One module per page: the page function, its components and its State."""
