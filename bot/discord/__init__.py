"""The Discord surface (discord.py is imported only inside it)."""
