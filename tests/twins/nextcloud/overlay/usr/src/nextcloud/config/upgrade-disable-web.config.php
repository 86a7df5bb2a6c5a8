<?php
// As the image's config/upgrade-disable-web.config.php: upgrades run from the command line only.
$CONFIG = ['upgrade.disable-web' => true];
