import sys
from pathlib import Path

# Let the tests here import their local helper (scripted_server) by name.
sys.path.insert(0, str(Path(__file__).parent))
