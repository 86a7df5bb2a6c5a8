from provisioner.cli.main import app

app(prog_name="provisioner")
