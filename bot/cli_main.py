"""`python -m bot.cli_main` runs the CLI without the installed entry point."""

from bot.cli import cli

if __name__ == "__main__":
    cli()
