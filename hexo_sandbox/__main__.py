"""`python -m hexo_sandbox serve ...`: the `hexo-sandbox` command (how the demo starts the sandbox)."""

import sys

from .cli import main

sys.exit(main())
