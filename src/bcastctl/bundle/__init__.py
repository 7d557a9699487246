"""`bcastctl bundle` and `bcastctl analyze`: one archive of every region's evidence."""
