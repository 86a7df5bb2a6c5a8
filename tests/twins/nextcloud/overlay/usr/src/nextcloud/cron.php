<?php
// cron.php: background jobs, run by the cron container every five minutes; the stand-in only
// records that it ran (core lastcron, as Nextcloud keeps it).
declare(strict_types=1);
require __DIR__ . '/lib/twin.php';

$config = nc_config();
if (empty($config['installed']) || !empty($config['maintenance'])) {
    exit(0);
}
$db = nc_db($config);
$db->prepare("DELETE FROM oc_appconfig WHERE appid = 'core' AND configkey = 'lastcron'")->execute();
$db->prepare("INSERT INTO oc_appconfig (appid, configkey, configvalue) VALUES ('core', 'lastcron', ?)")->execute([(string)time()]);
