# req/s and server CPU per response, ours vs nginx, per scenario (bench/run.py writes the data).
set terminal pngcairo size 1100,450 font "sans,10"
set output outfile
set multiplot layout 1,2 title "http\\_server vs nginx 1.22, one worker on CPU 0, wrk on CPU 1 (medians)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -30
set grid ytics
set key top left
set title "requests per second (higher is better)"
set format y "%.1s%c"
plot datafile using 2:xtic(1) title "http\\_server" lc rgb "#2a7ab9", '' using 3 title "nginx" lc rgb "#999999"
set title "server CPU per response, µs (lower is better)"
set format y "%.1f"
plot datafile using 4:xtic(1) title "http\\_server" lc rgb "#2a7ab9", '' using 5 title "nginx" lc rgb "#999999"
unset multiplot
