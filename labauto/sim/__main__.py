"""``python -m labauto.sim serve ...``: the simulated lab as a standalone process."""
from labauto.sim.cli import app

app(prog_name="python -m labauto.sim")
