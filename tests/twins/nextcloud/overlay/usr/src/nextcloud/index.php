<?php
// The sign-in page's place; the stand-in only says which product answers.
declare(strict_types=1);
require __DIR__ . '/lib/twin.php';

$config = nc_config();
if (!empty($config['maintenance'])) {
    http_response_code(503);
}
echo "<!DOCTYPE html><title>Nextcloud</title><p>Nextcloud stand-in</p>\n";
