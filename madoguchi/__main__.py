import sys

from madoguchi.cli import main

sys.exit(main())
