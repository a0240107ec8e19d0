from newsflow.cli import run

run()
