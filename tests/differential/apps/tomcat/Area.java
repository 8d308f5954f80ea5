// One servlet class mapped three times (web.xml): it answers which mapping Tomcat chose.
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;

public class Area extends HttpServlet {
    @Override
    protected void service(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        String area = getInitParameter("area");
        String user = req.getHeader("X-Auth-User-Id");
        resp.setHeader("X-App", "tomcat");
        resp.setHeader("X-Area", area);
        resp.setContentType("text/plain");
        resp.getWriter().print("area=" + area + " user=" + (user == null ? "" : user)
                + " path=" + req.getServletPath() + (req.getPathInfo() == null ? "" : req.getPathInfo()));
    }
}
