<?php
// Stand-in for the image's config/redis.config.php: with REDIS_HOST, Redis serves distributed cache
// and locking, on port 6379 unless REDIS_HOST_PORT says otherwise, with REDIS_HOST_PASSWORD.
$CONFIG = [];
if (getenv('REDIS_HOST')) {
    $CONFIG = [
        'memcache.distributed' => '\OC\Memcache\Redis',
        'memcache.locking' => '\OC\Memcache\Redis',
        'redis' => ['host' => getenv('REDIS_HOST'), 'password' => (string)getenv('REDIS_HOST_PASSWORD'), 'port' => (int)(getenv('REDIS_HOST_PORT') ?: 6379)],
    ];
}
