"""Speed and quality benchmarks that print tables (`make bench`). A regular package: pyarrow 17 ships a
top-level `benchmarks` package that would otherwise shadow this folder (measured in `make test-min`)."""
