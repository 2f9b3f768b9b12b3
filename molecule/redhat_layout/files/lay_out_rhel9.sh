#!/bin/sh
# Lays /etc/httpd out as RHEL 9's httpd and mod_ssl packages do, from the files prepare.yml copied to $1, around
# Debian's apache2 binary (linked as /usr/sbin/httpd). One task instead of a dozen: the scenario's prepare is its cost.
set -eu
src=$1
systemctl mask --now apache2.service >/dev/null 2>&1   # Debian's own unit: only the binary is used
id apache >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /usr/share/httpd --shell /sbin/nologin apache
mkdir -p /etc/httpd/conf /etc/httpd/conf.d /etc/httpd/conf.modules.d /var/log/httpd /var/www/html \
    /etc/pki/tls/certs /etc/pki/tls/private /etc/sysconfig /run/httpd
ln -sfn ../../var/log/httpd /etc/httpd/logs
ln -sfn /run/httpd /etc/httpd/run
ln -sfn /usr/lib/apache2/modules /etc/httpd/modules
ln -sfn apache2 /usr/sbin/httpd
install -m 0644 "$src"/conf.modules.d/*.conf /etc/httpd/conf.modules.d/
install -m 0644 "$src/httpd.conf" /etc/httpd/conf/httpd.conf
install -m 0644 "$src/ssl.conf" /etc/httpd/conf.d/ssl.conf
install -m 0644 "$src/httpd.service" /etc/systemd/system/httpd.service
install -m 0755 "$src/apachectl" /usr/sbin/apachectl
printf 'OPTIONS="-f /etc/httpd/conf/httpd.conf"\n' > /etc/sysconfig/httpd
printf 'd /run/httpd 710 root apache\n' > /etc/tmpfiles.d/httpd.conf
printf '# as the httpd package ships it: an unmanaged file\n' > /etc/httpd/conf.d/welcome.conf
# mod_ssl's post-install script makes this certificate.
[ -e /etc/pki/tls/certs/localhost.crt ] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -days 30 -subj /CN=localhost -keyout /etc/pki/tls/private/localhost.key -out /etc/pki/tls/certs/localhost.crt \
    2>/dev/null
systemctl daemon-reload
apachectl configtest
