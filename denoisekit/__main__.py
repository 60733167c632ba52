import sys

from denoisekit.cli import main

sys.exit(main())
