<?php
// status.php of Nextcloud server: installed, maintenance and needsDbUpgrade from the configuration,
// answered without a database and without the trusted-domain check.
declare(strict_types=1);
require __DIR__ . '/lib/twin.php';

$config = nc_config();
$installed = !empty($config['installed']);
header('Content-Type: application/json');
echo json_encode([
    'installed' => $installed,
    'maintenance' => !empty($config['maintenance']),
    'needsDbUpgrade' => nc_needs_upgrade($config),
    'version' => $installed ? nc_code_version() : '',
    'versionstring' => $installed ? nc_version_string() : '',
    'edition' => '',
    'productname' => 'Nextcloud',
    'extendedSupport' => false,
]);
