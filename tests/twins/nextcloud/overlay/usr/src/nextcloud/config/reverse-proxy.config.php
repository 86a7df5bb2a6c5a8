<?php
// Stand-in for the image's config/reverse-proxy.config.php: these variables, when set, give the keys
// beside them; TRUSTED_PROXIES is a space-separated list.
$CONFIG = [];
foreach (['OVERWRITEHOST' => 'overwritehost', 'OVERWRITEPROTOCOL' => 'overwriteprotocol', 'OVERWRITECLIURL' => 'overwrite.cli.url', 'OVERWRITEWEBROOT' => 'overwritewebroot', 'OVERWRITECONDADDR' => 'overwritecondaddr'] as $variable => $key) {
    if (getenv($variable)) {
        $CONFIG[$key] = getenv($variable);
    }
}
if (getenv('TRUSTED_PROXIES')) {
    $CONFIG['trusted_proxies'] = array_values(array_filter(explode(' ', getenv('TRUSTED_PROXIES'))));
}
