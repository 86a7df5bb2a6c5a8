"""Job steps our playbooks no longer have, since their tasks were folded or renamed: the pages of
jobs that ran them still show their names, in the viewer's language like every other step.

A task renamed in a playbook leaves its old name here (tests/api/portal/test_steps.py fails while the
German catalogue keeps a step's translation only as obsolete).
"""

from __future__ import annotations


def pgettext(context: str, message: str) -> str:
    """Marks ``message`` for ``pybabel extract`` under ``context`` (one of Babel's default keywords)."""
    del context
    return message


RETIRED_STEPS = frozenset(
    {
        pgettext("job step", "Create the instance network"),
        pgettext("job step", "Create the instance volumes"),
        pgettext("job step", "Attach the proxy to the instance network (instances never share one)"),
        pgettext("job step", "Find stale routes for this instance's address"),
        pgettext("job step", "Remove the stale routes"),
        pgettext("job step", "Reload the proxy"),
        pgettext("job step", "Remove the instance's route from the proxy"),
        pgettext("job step", "Remove containers"),
        pgettext("job step", "Remove networks (detaching the proxy)"),
        pgettext("job step", "Remove volumes"),
        pgettext("job step", "Remove the instance folder"),
        pgettext("job step", "Create the instance folder"),
        pgettext("job step", "Create folders for rendered files"),
        pgettext("job step", "Place rendered files"),
        pgettext("job step", "Create the proxy folders"),
        pgettext("job step", "Place the proxy configuration"),
        pgettext("job step", "Find proxies of an earlier registration of this server"),
        pgettext("job step", "Remove them, since they hold this server's ports"),
        pgettext("job step", "Create the proxy network"),
        pgettext("job step", "Create the proxy data volume (certificates, the local CA)"),
        pgettext("job step", "Pull the proxy image"),
        pgettext("job step", "Start the proxy"),
        pgettext("job step", "Reload the proxy when its configuration changed"),
        pgettext("job step", "Find the volumes and check the free space"),
        pgettext("job step", "Note Docker's volumes folder"),
        pgettext("job step", "Check that every volume lies in Docker's volumes folder"),
        pgettext("job step", "Run the steps before the backup"),
        pgettext("job step", "Run the steps after the backup"),
        pgettext("job step", "Note restic's summary of the backup"),
        pgettext("job step", "Find the snapshot's full id"),
        pgettext("job step", "Apply the retention policy to this instance's snapshots"),
        pgettext("job step", "Check that the snapshot holds every volume as a folder of its own"),
        pgettext("job step", "Check that the snapshot holds every database dump as a file of its own"),
        pgettext("job step", "Stop the instance's containers"),
        pgettext("job step", "Empty the volumes"),
        pgettext("job step", "Fill the volumes from the snapshot"),
        pgettext("job step", "Wait until each new database accepts connections"),
        pgettext("job step", "Remove the restored copy"),
        pgettext("job step", "Install restic where it is missing"),
        pgettext("job step", "Create the folder for the backup identity"),
        pgettext("job step", "Place the identity for the backup server"),
        pgettext("job step", "Pin the backup server's host key"),
        pgettext("job step", "Open the tenant's repository"),
        pgettext("job step", "Create the tenant's repository"),
        pgettext("job step", "Find identities that killed runs left behind"),
        pgettext(
            "job step", "Remove the run's identity, those left behind, and where earlier versions kept one"
        ),
        pgettext("job step", "Find the instance's volumes"),
        pgettext("job step", "Check that every volume exists"),
        pgettext("job step", "Note where the volumes are"),
        pgettext("job step", "Measure the free disk space"),
        pgettext("job step", "Check the free disk space"),
        pgettext("job step", "Refuse volumes an image declares that the template does not mount"),
        pgettext("job step", "Stop when the service never answered"),
        pgettext("job step", "Ask each component's own health endpoint"),
        pgettext("job step", "Read the volumes each image declares"),
        pgettext("job step", "Refuse a folder an image keeps as a volume that the template does not mount"),
        pgettext("job step", "Check that the repository opens"),
        pgettext("job step", "Run the steps before the restore"),
        pgettext("job step", "Restore the snapshot beside the volumes"),
        pgettext("job step", "Replace the volumes with the snapshot's, the containers stopped"),
        pgettext("job step", "Place the rendered files of the version that starts"),
        pgettext("job step", "Place the instance's files"),
        pgettext("job step", "Pull images"),
    }
)
