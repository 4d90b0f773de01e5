"""`python -m pcseg ...` (and `torchrun -m pcseg train ...`) run the command line."""

from pcseg.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
