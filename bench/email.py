"""The email channel's benchmark: `python bench/email.py [--messages N] [--mime-dir DIR ...]`.

Its code is `bench/mail.py`. This file has the name the benchmark is known by, which is also the
name of the standard library's `email` package, and Python puts a script's folder first on the
import path. So:

- run as a script, it takes its folder off the path and runs `bench/mail.py`;
- imported as `email` (by another script in this folder, or by a library that script loads), it
  puts the standard library's package in its own place, so `import email.utils` works there.
"""

import importlib
import runpy
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

if __name__ == "__main__":
    runpy.run_path(str(_HERE / "mail.py"), run_name="__main__")
else:
    # The import system returns whatever sys.modules holds under this name once this file ran.
    del sys.modules[__name__]
    sys.modules[__name__] = importlib.import_module(__name__)
