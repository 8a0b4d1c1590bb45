"""`python -m pipeline ...` runs the hnf-match command line, as the console script does."""
from pipeline.entry import main

main()
