"""Why a repository could not be deleted."""


class RepositoryNotDeleted(Exception):
    """One line for people, naming the target and what is left; no secret."""
